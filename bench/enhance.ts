// `npm run bench -- enhance`: placeholder.
export async function main(argv: string[]): Promise<void> {
  void argv;
  throw new Error('bench enhance is not built yet');
}
