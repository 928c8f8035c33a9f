/** The order-service as a standalone program: `node --import tsx demo/order-service.ts` (configuration: see demo/standalone.ts). */
import { main } from './standalone.js';

main('order-service');
