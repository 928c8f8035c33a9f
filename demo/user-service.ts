/** The user-service as a standalone program: `node --import tsx demo/user-service.ts` (configuration: see demo/standalone.ts). */
import { main } from './standalone.js';

main('user-service');
