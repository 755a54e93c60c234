import { Flags } from '@oclif/core';
import { readAuditLog, type AuditEvent } from '../../../services/enforcer/index.js';
import { LifecycleCommand } from '../../lifecycle-command.js';

export interface AuditTail {
  file: string;
  events: AuditEvent[];
}

export default class AuditTailCommand extends LifecycleCommand {
  static override summary = "Show the enforcer's last audit events (var/audit/enforcer.jsonl).";
  static override description = 'One line an event: time, agent, layer, verdict, operation, target, rule, process. Denials are always recorded; allowed operations when the policy says audit.allows.';
  static override examples = ['<%= config.bin %> audit tail', '<%= config.bin %> audit tail --agent sandbox-1a2b3c -n 50', '<%= config.bin %> audit tail --json'];
  static override flags = {
    agent: Flags.string({ description: "only this agent's events" }),
    lines: Flags.integer({ char: 'n', description: 'how many events', default: 20, min: 1 }),
    verdict: Flags.string({ description: 'only events with this verdict', options: ['allow', 'deny', 'kill'] }),
  };

  async run(): Promise<AuditTail> {
    const { flags } = await this.parse(AuditTailCommand);
    const file = this.layoutFor(flags).auditEvents;
    const all = await readAuditLog(file, { ...(flags.agent ? { agent: flags.agent } : {}), ...(flags.verdict ? {} : { limit: flags.lines }) });
    const events = flags.verdict ? all.filter((e) => e.verdict === flags.verdict).slice(-flags.lines) : all;
    for (const e of events) {
      const who = e.pid === null ? '' : `  pid ${e.pid}${e.exe ? ` ${e.exe}` : ''}`;
      this.log(`${e.time}  ${e.agent}  ${e.layer.padEnd(8)} ${e.verdict.toUpperCase().padEnd(5)} ${e.operation} ${e.target}  (${e.rule})${who}`);
    }
    if (events.length === 0) this.note(`no events in ${file}`);
    return { file, events };
  }
}
