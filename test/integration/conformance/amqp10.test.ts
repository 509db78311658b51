/** The conformance suite against the AMQP 1.0 transport on RabbitMQ 3.x (rabbitmq_amqp1_0 plugin). */
import { amqp10Factory } from './broker';
import { transportConformance } from './suite';

transportConformance(amqp10Factory);
