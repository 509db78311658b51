/**
 * libvirt secrets for volume auth (iSCSI CHAP passwords, Ceph keys). The
 * value goes to libvirt with virSecretSetValue and is wiped from our buffer
 * straight after; device XML refers to the secret by usage only.
 *
 * libvirt 9.0's test driver has no secret support (virSecretDefineXML fails
 * with VIR_ERR_NO_SUPPORT): volumes that need a secret fail there with
 * NOT_SUPPORTED, which is the honest answer.
 */
import type { Connection } from './connection';
import type { SecretRequest } from './device-xml';
import { Flags } from './ffi';
import type { SecretUsageType } from './metadata';

function usageTypeNumber(t: SecretUsageType): number {
  return t === 'iscsi' ? Flags.SECRET_USAGE_ISCSI : Flags.SECRET_USAGE_CEPH;
}

/**
 * Define the secret (or reuse the one with that usage, as Nova does) and set
 * its value. Returns whether it was created here, so a failed attach can
 * remove only what it added.
 */
export async function ensureSecret(c: Connection, req: SecretRequest): Promise<{ created: boolean }> {
  const existing = await c.findSecret(usageTypeNumber(req.usageType), req.usageId);
  const secret = existing ?? (await c.defineSecret(req.xml));
  try {
    const value = req.value();
    try {
      await c.setSecretValue(secret, value);
    } finally {
      value.fill(0);
    }
  } catch (err) {
    if (!existing) await c.undefineSecret(secret).catch(() => undefined);
    throw err;
  } finally {
    c.freeSecret(secret);
  }
  return { created: !existing };
}

/** Undefine the secret with that usage; nothing to do when there is none. */
export async function deleteSecret(c: Connection, usageType: SecretUsageType, usageId: string): Promise<void> {
  const secret = await c.findSecret(usageTypeNumber(usageType), usageId);
  if (!secret) return;
  try {
    await c.undefineSecret(secret);
  } finally {
    c.freeSecret(secret);
  }
}

/**
 * Cleanup after the device that used the secret is gone. Best effort: the
 * intent's outcome is the device change, which has already happened; a
 * secret that cannot be removed stays defined (visible with `virsh
 * secret-list`) and is replaced by the next attach with the same usage.
 */
export async function deleteSecretQuietly(c: Connection, usageType: SecretUsageType, usageId: string): Promise<void> {
  await deleteSecret(c, usageType, usageId).catch(() => undefined);
}
