// Entry point of `npm run bench -- <name>`; see docs/benchmarks.md for the conventions.
interface Bench {
  describe: string;
  main(argv: string[]): Promise<void>;
}

const BENCHES: Record<string, Bench> = {
  engine: {
    describe: 'SR-style network: no-grad forward and Adam training step vs PyTorch, RSS over 500 steps',
    main: async (argv) => (await import('./engine.js')).main(argv),
  },
  data: {
    describe:
      'data loader samples/s (CelebA 64x64, flip + affine, batch 16) vs what a CPU train step consumes',
    main: async (argv) => (await import('./data.js')).main(argv),
  },
  train: {
    describe: 'one semi-cycle iteration, paper preset batch 8 and cpu preset batch 16, vs PyTorch',
    main: async (argv) => (await import('./train.js')).main(argv),
  },
  enhance: {
    describe: 'restored faces/s of the shipped model vs PyTorch, and tiny_selfie.jpg end to end',
    main: async (argv) => (await import('./enhance.js')).main(argv),
  },
  serve: {
    describe:
      'facesr serve under a bounded load from autocannon on loopback: requests, errors, p50/p99, RSS growth',
    main: async (argv) => (await import('./serve.js')).main(argv),
  },
};

function usage(): void {
  console.error('usage: npm run bench -- <name> [options]\navailable benches:');
  for (const [name, b] of Object.entries(BENCHES)) console.error(`  ${name.padEnd(10)} ${b.describe}`);
}

const [name, ...rest] = process.argv.slice(2);
const bench = name !== undefined && Object.hasOwn(BENCHES, name) ? BENCHES[name] : undefined;
if (!bench) {
  if (name !== undefined) console.error(`unknown bench '${name}'`);
  usage();
  process.exit(2);
}
await bench.main(rest);
