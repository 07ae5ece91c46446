// `facesr eval`: placeholder until its issue lands.
import { FacesrError } from '../core/errors.js';

export async function evalCommand(args: string[]): Promise<number> {
  void args;
  throw new FacesrError('facesr eval is not built yet');
}
