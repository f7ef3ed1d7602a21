import { currentCheckpoint, type PublishedCheckpoint } from "../registry/c2sp/publish.js";
import type { RegistrySnapshot } from "./views.js";

/**
 * The C2SP checkpoint of the whole log, signed by the server's actor: computed once per registry
 * version (it verifies the whole log first, which is not a per-request cost).
 */
export async function checkpointOf(snap: RegistrySnapshot): Promise<PublishedCheckpoint> {
  const { value } = await snap.memo("c2sp:checkpoint", async () => {
    const { entries: _entries, ...cp } = await currentCheckpoint(
      snap.registry.db,
      await snap.registry.signer(),
    );
    return cp;
  });
  return value;
}
