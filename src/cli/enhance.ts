// `facesr enhance`: placeholder until its issue lands.
import { FacesrError } from '../core/errors.js';

export async function enhanceCommand(args: string[]): Promise<number> {
  void args;
  throw new FacesrError('facesr enhance is not built yet');
}
