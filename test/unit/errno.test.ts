import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { errnoName, errnoValue } from '../../src/errno.ts';

test('errno names come from the platform table, negative or positive', () => {
  assert.is(errnoName(1), 'EPERM');
  assert.is(errnoName(-2), 'ENOENT');
  assert.is(errnoName(524), 'ENOTSUPP');
  assert.is(errnoValue('EINVAL'), 22);
});

test.run();
