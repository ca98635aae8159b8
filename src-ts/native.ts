// The generated napi-rs loader and its types (index.js / index.d.ts at the
// package root, made by `napi build`). Nothing else imports it directly.
// eslint-disable-next-line @typescript-eslint/no-require-imports
import binding = require('../index.js')
export = binding
