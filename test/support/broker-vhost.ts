/**
 * A RabbitMQ vhost of a test's own on the shared broker: whatever the test
 * does there (queues, closed connections, revoked permissions) touches no
 * other test, and deleting the vhost removes everything it made.
 */
import { AMQP091_URL, rabbitmqctl, uid, urlWithVhost } from './broker';

export interface TestVhost {
  name: string;
  /** AMQP_URL with this vhost. */
  url: string;
  /** Refuse (false) or allow (true) the guest user on it. */
  allowGuest(allowed: boolean): Promise<void>;
  /** Close every connection to it (the broker's "connection.close" to each client). */
  closeConnections(): Promise<void>;
  remove(): Promise<void>;
}

export async function createVhost(prefix: string): Promise<TestVhost> {
  const name = `${prefix}-${uid()}`;
  await rabbitmqctl('add_vhost', name);
  const allowGuest = async (allowed: boolean) => {
    if (allowed) await rabbitmqctl('set_permissions', '-p', name, 'guest', '.*', '.*', '.*');
    else await rabbitmqctl('clear_permissions', '-p', name, 'guest');
  };
  await allowGuest(true);
  return {
    name,
    url: urlWithVhost(AMQP091_URL, name),
    allowGuest,
    closeConnections: async () => {
      await rabbitmqctl('close_all_connections', '--vhost', name, 'hostwall test: connection closed on purpose');
    },
    remove: async () => {
      await rabbitmqctl('delete_vhost', name).catch(() => undefined);
    },
  };
}
