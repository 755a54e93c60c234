/**
 * The shape of a policy document: which keys exist and what type each value
 * has. Value syntax (paths, egress entries) and cross-key rules are checked
 * later, where positions and the profile are known. Every object is strict:
 * an unknown key is an error, never silently ignored.
 */
import * as z from 'zod';

/** Lists longer than this are a mistake or an attack on the compiler and the BPF maps. */
export const MAX_LIST_ENTRIES = 1024;
export const LIMITS = {
  maxProcesses: { min: 1, max: 32768 },
  maxMemoryMb: { min: 4, max: 1048576 },
  timeoutMinutes: { max: 43200 },
} as const;

const stringList = z
  .array(z.string({ error: 'must be a string' }), { error: 'must be a list of strings' })
  .max(MAX_LIST_ENTRIES, { error: `must have at most ${MAX_LIST_ENTRIES} entries` });
const bool = z.boolean({ error: 'must be true or false' });
const section = <T extends z.core.$ZodLooseShape>(shape: T) => z.strictObject(shape, { error: 'must be a mapping' });

export const ProfileNameSchema = z.enum(['sandbox', 'development', 'production'], {
  error: 'must be one of sandbox, development, production',
});

export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export const AgentPolicySchema = section({
  name: z
    .string({ error: 'must be a string' })
    .regex(NAME_PATTERN, { error: 'must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit' })
    .optional(),
  extends: ProfileNameSchema.optional(),
  on_violation: z.enum(['kill', 'deny'], { error: 'must be kill or deny' }).optional(),
  network: section({
    allow_egress: stringList.optional(),
    deny_egress: stringList.optional(),
    loopback: bool.optional(),
    dns: bool.optional(),
  }).optional(),
  filesystem: section({
    read: stringList.optional(),
    write: stringList.optional(),
    exec: stringList.optional(),
  }).optional(),
  execution: section({
    spawn: bool.optional(),
    exec: bool.optional(),
    max_processes: z
      .int({ error: 'must be a positive integer' })
      .min(LIMITS.maxProcesses.min, { error: 'must be a positive integer' })
      .max(LIMITS.maxProcesses.max, { error: `must be at most ${LIMITS.maxProcesses.max}` })
      .optional(),
    max_memory_mb: z
      .int({ error: 'must be a positive integer (MiB)' })
      .min(LIMITS.maxMemoryMb.min, { error: `must be at least ${LIMITS.maxMemoryMb.min} (nothing runs in less)` })
      .max(LIMITS.maxMemoryMb.max, { error: `must be at most ${LIMITS.maxMemoryMb.max} (1 TiB)` })
      .optional(),
    timeout_minutes: z
      .number({ error: 'must be a positive number of minutes' })
      .refine((m) => Number.isFinite(m) && Math.round(m * 60) >= 1, { error: 'must be at least one second (1/60 minute)' })
      .refine((m) => m <= LIMITS.timeoutMinutes.max, { error: `must be at most ${LIMITS.timeoutMinutes.max} (30 days)` })
      .optional(),
  }).optional(),
  audit: section({
    allows: bool.optional(),
  }).optional(),
});

export const PolicyFileSchema = z.strictObject(
  { agent_policy: AgentPolicySchema },
  { error: 'a policy must be a mapping with the single key agent_policy' },
);

export type AgentPolicyDoc = z.infer<typeof AgentPolicySchema>;
