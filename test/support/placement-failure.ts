/** The PlacementError a Placement client call rejects with (the test fails if it resolves or rejects otherwise). */
import { expect } from 'chai';
import { PlacementError } from '../../src/errors';

export async function placementFailure(p: Promise<unknown>): Promise<PlacementError> {
  try {
    await p;
  } catch (err) {
    expect(err).to.be.instanceOf(PlacementError);
    return err as PlacementError;
  }
  throw new Error('expected a PlacementError');
}
