// Reads the line of tscstamp.c, the initramfs's clock at /init (built by
// programs.ts), back out of a console log (tools/linuxbench.ts).

const STAMP_LINE = /tscstamp: \/init at tsc (\d+)\r?\n/;

// The TSC tscstamp printed, or null if the output has no such line.
export function parseTscStamp(output: string): number | null {
  const match = STAMP_LINE.exec(output);
  return match ? Number(match[1]) : null;
}
