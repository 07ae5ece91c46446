// @vladmandic/face-api on TensorFlow.js's wasm backend, offline: the networks' weights come from the
// npm package's model/ folder. One copy of the library per process; each network loads on first use.
// Used by the SSD detector (detectors.ts) and by eval's judges (identity descriptors, landmarks).
import { createRequire } from 'node:module';
import path from 'node:path';
import { FacesrError } from '../core/errors.js';

/** A tfjs tensor, as far as this project uses it. */
export interface TfTensor {
  shape: number[];
  dispose(): void;
}

/** The part of face-api's API used here. */
export interface FaceApi {
  tf: {
    setBackend(name: string): Promise<boolean>;
    ready(): Promise<void>;
    getBackend(): string;
    tensor3d(values: Int32Array | Uint8Array, shape: [number, number, number], dtype: 'int32'): TfTensor;
    memory(): { numTensors: number };
  };
  nets: {
    ssdMobilenetv1: FaceApiNet;
    faceRecognitionNet: FaceApiNet & {
      computeFaceDescriptor(input: TfTensor | TfTensor[]): Promise<Float32Array | Float32Array[]>;
    };
    faceLandmark68Net: FaceApiNet & {
      detectLandmarks(input: TfTensor | TfTensor[]): Promise<unknown>;
    };
  };
  SsdMobilenetv1Options: new (o: { minConfidence: number; maxResults: number }) => unknown;
  detectAllFaces(
    input: unknown,
    options: unknown,
  ): Promise<{ score: number; box: { x: number; y: number; width: number; height: number } }[]>;
}

interface FaceApiNet {
  loadFromDisk(dir: string): Promise<void>;
  isLoaded: boolean;
}

export type FaceApiNetName = 'ssdMobilenetv1' | 'faceRecognitionNet' | 'faceLandmark68Net';

let library: Promise<{ api: FaceApi; modelDir: string }> | null = null;

function loadLibrary(): Promise<{ api: FaceApi; modelDir: string }> {
  library ??= (async () => {
    const require = createRequire(import.meta.url);
    let api: FaceApi;
    let modelDir: string;
    try {
      // The node-wasm build takes tfjs and the wasm backend from node_modules (face-api 1.7 wants 4.22).
      api = require('@vladmandic/face-api/dist/face-api.node-wasm.js') as FaceApi;
      modelDir = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
    } catch (err) {
      throw new FacesrError(
        `face-api's networks need @vladmandic/face-api and @tensorflow/tfjs-backend-wasm (npm install): ${(err as Error).message}`,
        { cause: err },
      );
    }
    // Without setWasmPaths the backend reads its .wasm next to itself from the file system (no fetch).
    if (!(await api.tf.setBackend('wasm')))
      throw new FacesrError('TensorFlow.js wasm backend failed to start');
    await api.tf.ready();
    return { api, modelDir };
  })();
  library.catch(() => {
    library = null;
  });
  return library;
}

const loading = new Map<FaceApiNetName, Promise<void>>();

/** face-api on the wasm backend with the given networks' weights loaded (each once per process). */
export async function loadFaceApi(nets: readonly FaceApiNetName[]): Promise<FaceApi> {
  const { api, modelDir } = await loadLibrary();
  for (const name of nets) {
    let p = loading.get(name);
    if (!p) {
      const net = api.nets[name];
      p = net.isLoaded ? Promise.resolve() : net.loadFromDisk(modelDir);
      loading.set(name, p);
      p.catch(() => loading.delete(name));
    }
    await p;
  }
  return api;
}
