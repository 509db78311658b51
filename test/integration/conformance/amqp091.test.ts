/** The conformance suite against the AMQP 0-9-1 transport (the reference behaviour). */
import { amqp091Factory } from './broker';
import { transportConformance } from './suite';

transportConformance(amqp091Factory);
