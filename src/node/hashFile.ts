// SHA-256 of a file's content, streamed (adapter weights can be hundreds of MB): the evaluation cache's HashFile.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { CoreError } from '../core/errors';

export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => h.update(chunk))
      .on('error', (e) => reject(new CoreError('io', `${path}: cannot read (${e.message}).`, path)))
      .on('end', () => resolve(h.digest('hex')));
  });
}
