// `npm run bench -- train`: placeholder.
export async function main(argv: string[]): Promise<void> {
  void argv;
  throw new Error('bench train is not built yet');
}
