/** The gateway as a standalone program: `node --import tsx demo/gateway.ts` (configuration: see demo/standalone.ts). */
import { main } from './standalone.js';

main('gateway');
