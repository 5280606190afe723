import os from 'node:os';

/** The machine a measurement ran on, for the record beside it (this one is shared: note its load too). */
export interface MachineFacts {
  cpus: number;
  cpuModel: string;
  memoryGb: number;
  loadAverage: number[];
  platform: string;
}

export function machineFacts(): MachineFacts {
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    loadAverage: os.loadavg().map((load) => Math.round(load * 100) / 100),
    platform: `${os.platform()} ${os.arch()}`,
  };
}
