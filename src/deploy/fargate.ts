import { usageFault } from '../errors.js';

/**
 * The task sizes Fargate runs (AWS Batch ResourceRequirement: each vCPU count takes memory in MiB from its
 * own range and step). A job definition outside them is refused by RegisterJobDefinition.
 */
const FARGATE: { vcpu: number; memory: number[] }[] = [
  { vcpu: 0.25, memory: [512, 1024, 2048] },
  { vcpu: 0.5, memory: steps(1024, 4096, 1024) },
  { vcpu: 1, memory: steps(2048, 8192, 1024) },
  { vcpu: 2, memory: steps(4096, 16384, 1024) },
  { vcpu: 4, memory: steps(8192, 30720, 1024) },
  { vcpu: 8, memory: steps(16384, 61440, 4096) },
  { vcpu: 16, memory: steps(32768, 122880, 8192) },
  { vcpu: 32, memory: [61440, 122880, 249856] },
];

function steps(from: number, to: number, step: number): number[] {
  return Array.from({ length: (to - from) / step + 1 }, (_, i) => from + i * step);
}

/** MiB in a Kubernetes memory quantity (768Mi, 2Gi). */
export const mebibytes = (quantity: string): number => {
  const m = /^(\d+)(Mi|Gi)$/.exec(quantity)!;
  return Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1);
};

/**
 * The Fargate size for a Kubernetes CPU quantity (1, 0.5, 500m) and a memory limit in MiB: the same vCPUs,
 * and the smallest memory Fargate offers at that vCPU count that holds the limit. A CPU count that Fargate
 * does not offer, or a limit above its largest memory, is a usage error that names what it offers.
 */
export function fargateSize(cpu: string, limitMiB: number): { vcpu: string; memory: string } {
  const vcpu = cpu.endsWith('m') ? Number(cpu.slice(0, -1)) / 1000 : Number(cpu);
  const size = FARGATE.find((s) => s.vcpu === vcpu);
  if (!size)
    throw usageFault(
      'cpu',
      `{param} ${cpu}: AWS Batch on Fargate takes ${FARGATE.map((s) => s.vcpu).join(', ')} vCPUs per task`,
    );
  const memory = size.memory.find((m) => m >= limitMiB);
  if (memory === undefined)
    throw usageFault(
      'memory',
      `{param}: a limit of ${limitMiB} MiB is above the ${size.memory.at(-1)} MiB Fargate gives ${vcpu} vCPU; raise the CPU`,
    );
  return { vcpu: String(vcpu), memory: String(memory) };
}
