/** AMQP 0-9-1 transport (amqplib). */
export { Amqp091Transport, createAmqp091Transport } from './transport';
export { type Amqp091Options, Amqp091OptionsSchema, type LogLevel, type TransportLog } from './options';
export { publishProperties } from './publisher';
