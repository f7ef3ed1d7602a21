import type { MiddlewareHandler } from "hono";
import { rateLimiter } from "hono-rate-limiter";
import { PedigreeError } from "../errors.js";
import type { JobQueue } from "../jobs/index.js";
import type { AuthEnv } from "./auth.js";

/** API requests per client per minute: generous for a UI and scripts, a wall for a runaway loop. */
export const API_REQUESTS_PER_MINUTE = 600;
/** Unfinished jobs one client may have: fingerprinting is expensive, one client must not fill the queue. */
export const MAX_ACTIVE_JOBS_PER_CLIENT = 20;

/** Fixed-window request limit per client (token id, or address without a token); 429 when over. */
export function apiRateLimit(perMinute = API_REQUESTS_PER_MINUTE): MiddlewareHandler<AuthEnv> {
  return rateLimiter<AuthEnv>({
    windowMs: 60_000,
    limit: perMinute,
    standardHeaders: "draft-7",
    keyGenerator: (c) => c.get("client"),
    handler: () => {
      throw new PedigreeError("SERVER_RATE_LIMITED", `More than ${perMinute} API requests in a minute`, {
        details: { perMinute },
        hint: "Wait a minute, or follow a job over /api/jobs/:id/events instead of polling",
      });
    },
  });
}

/** Refuses a new job when the client already has `max` queued or running. */
export async function checkActiveJobs(
  jobs: JobQueue,
  owner: string,
  max = MAX_ACTIVE_JOBS_PER_CLIENT,
): Promise<void> {
  const active = [
    ...(await jobs.list({ owner, state: "queued" })),
    ...(await jobs.list({ owner, state: "running" })),
  ].length;
  if (active >= max)
    throw new PedigreeError("JOB_TOO_MANY", `You already have ${active} unfinished jobs`, {
      details: { active, max },
      hint: "Wait for some to finish, or cancel those you no longer need",
    });
}
