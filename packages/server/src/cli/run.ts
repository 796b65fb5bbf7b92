// The command's entry point: bin/paddock.mjs runs its compiled copy (dist/cli/run.js), and a source
// checkout runs it through tsx (`node --import tsx packages/server/src/cli/run.ts`), as the tests do.
import { main } from './main.ts';

await main(process.argv);
