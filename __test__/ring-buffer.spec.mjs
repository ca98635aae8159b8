import test from 'ava'
import { lib } from './helpers.mjs'

const { AudioRingBuffer } = lib

test('planar and interleaved frames come out in order, with free/available accounting', (t) => {
  const rb = new AudioRingBuffer(8, 2)
  t.is(rb.capacity, 8)
  t.is(rb.free(), 8)
  t.is(rb.write([Float32Array.of(1, 2, 3), Float32Array.of(-1, -2, -3)]), 3)
  t.is(rb.write(Float32Array.of(4, -4, 5, -5)), 2)
  t.is(rb.available(), 5)
  t.is(rb.free(), 3)
  const [l, r] = rb.read(4)
  t.deepEqual([...l], [1, 2, 3, 4])
  t.deepEqual([...r], [-1, -2, -3, -4])
  t.deepEqual([...rb.readInterleaved(10)], [5, -5])
  t.is(rb.available(), 0)
})

test('a full buffer accepts only what fits and wraps around', (t) => {
  const rb = new AudioRingBuffer(4, 1)
  let next = 0
  const seen = []
  for (let round = 0; round < 50; round++) {
    const block = Float32Array.from({ length: 3 }, (_, i) => next + i)
    next += rb.write([block])
    seen.push(...rb.read(round % 3)[0])
  }
  seen.push(...rb.read(4)[0])
  t.deepEqual(seen, Array.from({ length: next }, (_, i) => i))
})

test('shape errors and invalid construction are typed', (t) => {
  t.throws(() => new AudioRingBuffer(0, 2), { code: 'ERR_INVALID_PARAMETER' })
  const rb = new AudioRingBuffer(16, 2)
  t.throws(() => rb.write([new Float32Array(4)]), { code: 'ERR_SHAPE' })
  t.throws(() => rb.write([new Float32Array(4), new Float32Array(3)]), { code: 'ERR_SHAPE' })
})

test('hostile sizes are refused with a typed error instead of an allocation that aborts', (t) => {
  // 2^32 - 1 frames x 2^32 - 1 channels would be 2^66 bytes; 2^28 x 1 is 1 GiB.
  for (const [frames, channels] of [[2 ** 32 - 1, 2 ** 32 - 1], [2 ** 28, 1], [2 ** 26, 2]]) {
    const e = t.throws(() => new AudioRingBuffer(frames, channels), { code: 'ERR_INVALID_PARAMETER' })
    t.regex(e.message, /samples/)
  }
  // A large allowed buffer still works end to end; a huge read is a short read.
  const rb = new AudioRingBuffer(2 ** 20, 2)
  t.is(rb.capacity, 2 ** 20)
  t.is(rb.write(Float32Array.of(1, 2)), 1)
  t.deepEqual([...rb.readInterleaved(2 ** 32 - 1)], [1, 2])
})
