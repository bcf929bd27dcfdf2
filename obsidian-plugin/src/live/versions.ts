/** Version-vector arithmetic the binding needs and Loro's JS API does not offer. */
import { VersionVector } from "loro-crdt";

/** Per peer, the larger counter: what is known to be in both of two lower bounds. */
export function union(a: VersionVector, b: VersionVector): VersionVector {
  const out = new Map(a.toJSON());
  for (const [peer, counter] of b.toJSON()) {
    if ((out.get(peer) ?? 0) < counter) out.set(peer, counter);
  }
  return new VersionVector(out);
}

/** True if `a` holds an op that `b` does not (so `b`'s owner lacks something of `a`'s). */
export function hasBeyond(a: VersionVector, b: VersionVector): boolean {
  const other = b.toJSON();
  for (const [peer, counter] of a.toJSON()) {
    if (counter > (other.get(peer) ?? 0)) return true;
  }
  return false;
}
