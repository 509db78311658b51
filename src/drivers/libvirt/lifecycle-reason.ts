/**
 * libvirt's lifecycle event and detail as one readable word pair,
 * `<event>:<detail>` in libvirt's own names lower-cased (virDomainEventType
 * and the virDomainEvent*DetailType enums of libvirt 9.0), e.g.
 * `stopped:destroyed`, `suspended:paused`, `started:booted`. A number libvirt
 * adds later stays a number (`stopped:7`) rather than being guessed.
 */

const EVENTS: [string, string[]][] = [
  ['defined', ['added', 'updated', 'renamed', 'from_snapshot']],
  ['undefined', ['removed', 'renamed']],
  ['started', ['booted', 'migrated', 'restored', 'from_snapshot', 'wakeup']],
  ['suspended', ['paused', 'migrated', 'ioerror', 'watchdog', 'restored', 'from_snapshot', 'api_error', 'postcopy', 'postcopy_failed']],
  ['resumed', ['unpaused', 'migrated', 'from_snapshot', 'postcopy', 'postcopy_failed']],
  ['stopped', ['shutdown', 'destroyed', 'crashed', 'migrated', 'saved', 'failed', 'from_snapshot']],
  ['shutdown', ['finished', 'guest', 'host']],
  ['pmsuspended', ['memory', 'disk']],
  ['crashed', ['panicked', 'crashloaded']],
];

export function lifecycleReason(event: number, detail: number): string {
  const known = EVENTS[event];
  if (!known) return `${event}:${detail}`;
  const [name, details] = known;
  return `${name}:${details[detail] ?? String(detail)}`;
}
