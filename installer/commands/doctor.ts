import { LifecycleCommand } from '../lifecycle-command.js';
import { runDoctor, type DoctorReport } from '../doctor/index.js';
import { ExitCode } from '../exit-codes.js';

export default class Doctor extends LifecycleCommand {
  static override summary = 'Check that this host can run the appliance: kernel, BTF, LSMs, cgroups, disk, ports, privileges.';
  static override description = `Each check passes, warns or fails with a hint. Exits ${ExitCode.CHECKS_FAILED} when any check fails.`;
  static override examples = ['<%= config.bin %> doctor', '<%= config.bin %> doctor --json'];

  async run(): Promise<DoctorReport> {
    const { flags } = await this.parse(Doctor);
    const report = await runDoctor({ layout: this.layoutFor(flags), isRoot: process.geteuid?.() === 0 });
    for (const check of report.checks) {
      this.note(`${check.status.toUpperCase().padEnd(4)} ${check.id.padEnd(16)} ${check.message}`);
      if (check.hint && check.status !== 'pass') this.note(`     hint: ${check.hint}`);
    }
    this.note(`${report.counts.pass} passed, ${report.counts.warn} warned, ${report.counts.fail} failed`);
    if (!report.ok) process.exitCode = ExitCode.CHECKS_FAILED;
    return report;
  }
}
