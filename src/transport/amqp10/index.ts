/** AMQP 1.0 transport (rhea). */
export { Amqp10Transport, createAmqp10Transport } from './transport';
export { type Amqp10Options, Amqp10OptionsSchema, adminUrlOf } from './options';
export { type AddressBook, type AddressFamily, type AddressTemplates, addressBook, encodeSegment, type Route } from './addresses';
export { applicationProperties, bodyBytes, inboundFields, outboundMessage } from './message-map';
