#!/usr/bin/env node
// facesr command-line entry point.
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { FacesrError } from '../core/errors.js';

const HELP = `facesr: real-world face super-resolution

Usage: facesr <command> [options]

Commands:
  doctor            check the engine: libtorch version, threads, CUDA, addon path, a tiny conv
  data harvest      cut real low-resolution faces out of photos into a training set
  train             train the semi-cycled GAN (restoration network) on HR and real LR faces
  train-fan         train the face alignment network on 68-point landmark faces, report NME
  enhance           restore the faces in photos, folders or globs with the shipped model
  eval              measure restored faces against bicubic and other models (PSNR, SSIM, identity)
  serve             a web page and JSON API for restoring faces (default http://127.0.0.1:8080/)
  help              this text

Options for every command:
  -h, --help        help
  -v, --version     print the version

Run 'facesr <command> --help' for a command's options.`;

const DOCTOR_HELP = `Usage: facesr doctor [--threads N] [--json]

Checks that the native engine loads and computes correctly, and prints the setup.
  --threads N   intra-op threads for libtorch (default: libtorch's choice)
  --json        print the report as JSON`;

function version(): string {
  const pj = new URL('../../../package.json', import.meta.url);
  return (JSON.parse(readFileSync(pj, 'utf8')) as { version: string }).version;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === 'help' || cmd === '-h' || cmd === '--help') {
    console.log(HELP);
    return cmd ? 0 : 1;
  }
  if (cmd === '-v' || cmd === '--version') {
    console.log(version());
    return 0;
  }
  switch (cmd) {
    case 'doctor': {
      const { values } = parseArgs({
        args: rest,
        options: {
          threads: { type: 'string' },
          json: { type: 'boolean' },
          help: { type: 'boolean', short: 'h' },
        },
      });
      if (values.help) {
        console.log(DOCTOR_HELP);
        return 0;
      }
      const threads = values.threads === undefined ? undefined : Number(values.threads);
      if (threads !== undefined && !(Number.isInteger(threads) && threads > 0)) {
        throw new FacesrError(`Expected positive integer for --threads but received '${values.threads}'`);
      }
      const { doctor, formatDoctor } = await import('./doctor.js');
      const r = doctor({ threads });
      console.log(values.json ? JSON.stringify(r, null, 2) : formatDoctor(r));
      return r.ok ? 0 : 1;
    }
    case 'train': {
      const { trainCommand } = await import('./train.js');
      return trainCommand(rest);
    }
    case 'train-fan': {
      const { trainFanCommand } = await import('./trainfan.js');
      return trainFanCommand(rest);
    }
    case 'enhance': {
      const { enhanceCommand } = await import('./enhance.js');
      return enhanceCommand(rest);
    }
    case 'eval': {
      if (rest[0] === 'lfw' || rest[0] === 'utk') {
        const { lfwCommand, utkCommand } = await import('./evalextra.js');
        return rest[0] === 'lfw' ? lfwCommand(rest.slice(1)) : utkCommand(rest.slice(1));
      }
      const { evalCommand } = await import('./eval.js');
      return evalCommand(rest);
    }
    case 'serve': {
      const { serveCommand } = await import('./serve.js');
      return serveCommand(rest);
    }
    case 'data': {
      const { dataCommand } = await import('./data.js');
      return dataCommand(rest);
    }
    default:
      console.error(
        `facesr: unknown command '${cmd}'. Commands: doctor, data, train, train-fan, enhance, eval, serve, help.`,
      );
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (
      err instanceof FacesrError ||
      (err instanceof Error && err.name === 'TypeError' && /Unknown option|Option/.test(err.message))
    ) {
      console.error(`facesr: ${err.message}`);
    } else if (err instanceof Error && (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`facesr: ${err.message}`);
    } else {
      console.error(err);
    }
    process.exit(1);
  },
);
