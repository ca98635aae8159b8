// Loads the native addon before anything else does, so that a platform
// without one gets an error naming the package to install instead of the
// generated loader's generic one (imported first by native.ts).
import { bindingNotFound } from './binding-error'

try {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('../index.js')
} catch (e) {
  throw bindingNotFound(e)
}
