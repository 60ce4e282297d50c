import type { Route } from '../route.ts'
import { idRoute } from './id.ts'
import { joinRoute } from './join.ts'
import { leaveRoute } from './leave.ts'
import { peersRoute } from './peers.ts'
import { statusRoute } from './status.ts'

/** Every control API route. Adding one is a file in this folder and a line here. */
export const routes: Route[] = [
  idRoute,
  statusRoute,
  peersRoute,
  joinRoute,
  leaveRoute
]
