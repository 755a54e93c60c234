import { listAgents, type ListResult } from '../../services/enforcer/index.js';
import { AirlockCommand } from '../base-command.js';
import { Layout, resolvePrefix } from '../layout.js';
import { prefixFlag } from './run.js';

const MiB = 2 ** 20;

export default class Agents extends AirlockCommand {
  static override baseFlags = { prefix: prefixFlag };
  static override summary = 'List the running agents: policy, pid, budgets and what they use now.';
  static override description = 'Read from the records `airlock run` keeps under run/agents/ and from each agent\'s cgroups. Records of runs that died are removed, with whatever they left in cgroupfs. Needs root.';
  static override examples = ['<%= config.bin %> agents', '<%= config.bin %> agents --json'];

  async run(): Promise<ListResult> {
    const { flags } = await this.parse(Agents);
    const layout = new Layout(resolvePrefix(flags.prefix));
    const result = await listAgents({ agentsDir: layout.agentRecords });
    for (const id of result.cleaned) this.note(`removed the record of ${id} (its run is gone)`);
    if (result.agents.length === 0) this.note('no agents running');
    for (const a of result.agents) {
      const u = a.usage;
      const used = u ? `${u.pids}/${a.budgets.maxProcesses} processes (peak ${u.pidsPeak ?? '?'}), ${(u.memoryBytes / MiB).toFixed(1)}/${a.budgets.maxMemoryBytes / MiB} MiB (peak ${u.memoryPeakBytes === null ? '?' : (u.memoryPeakBytes / MiB).toFixed(1)})${u.oomKills ? `, ${u.oomKills} OOM kill(s)` : ''}${u.frozen ? ', FROZEN' : ''}` : 'usage unavailable';
      this.note(`${a.id}  policy ${a.policy.name} (${a.policy.onViolation})  pid ${a.pid ?? '-'}  since ${a.startedAt}  timeout ${a.budgets.timeoutSeconds} s`);
      this.note(`    ${used}`);
      this.note(`    ${a.command.join(' ')}  (workspace ${a.workspace})`);
    }
    return result;
  }
}
