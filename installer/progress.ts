/** A one-line progress display for long work, redrawn at most 10 times a second. */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${UNITS[unit]}`;
}

export class Progress {
  private readonly started = Date.now();
  private lastDraw = 0;
  private drawn = false;

  constructor(
    private readonly label: string,
    private readonly enabled: boolean,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  /** Report `done` of `total` bytes. */
  readonly update = (done: number, total: number): void => {
    if (!this.enabled) return;
    const now = Date.now();
    if (now - this.lastDraw < 100 && done < total) return;
    this.lastDraw = now;
    const seconds = Math.max((now - this.started) / 1000, 0.001);
    const percent = total > 0 ? Math.floor((done / total) * 100) : 100;
    const line = `${this.label} ${percent}% ${formatBytes(done)}/${formatBytes(total)} ${formatBytes(done / seconds)}/s`;
    this.stream.write(`\r\x1b[2K${line}`);
    this.drawn = true;
  };

  done(): void {
    if (this.drawn) this.stream.write('\r\x1b[2K');
    this.drawn = false;
  }
}
