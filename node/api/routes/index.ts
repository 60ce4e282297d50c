import type { Route } from '../route.ts'
import { a2aRoute, agentCardRoute } from './a2a.ts'
import { agentListRoute, agentRoleShareRoute, agentRolesRoute, agentSpawnRoute } from './agents.ts'
import { allowListRoute, allowRoute, disallowRoute } from './allow.ts'
import { blockListRoute, blockRoute, unblockRoute } from './block.ts'
import { budgetSetRoute, budgetShowRoute } from './budget.ts'
import { dashboardPageRoute, dashboardScriptRoute, dashboardStyleRoute, overviewRoute } from './dashboard.ts'
import { eventsRoute } from './events.ts'
import { idRoute } from './id.ts'
import { joinRoute } from './join.ts'
import { leaveRoute } from './leave.ts'
import { memoryDeleteRoute, memoryGetRoute, memoryListRoute, memoryNamespacesRoute, memoryStoreBatchRoute, memoryStoreRoute } from './memory.ts'
import {
  patternConsolidateRoute, patternForgetRoute, patternListRoute, patternOutcomeRoute, patternQueryRoute, patternStatsRoute, patternStoreRoute
} from './patterns.ts'
import { metricsRoute } from './metrics.ts'
import { peersRoute } from './peers.ts'
import { statusRoute } from './status.ts'
import {
  swarmEventsRoute, swarmInitRoute, swarmJoinRoute, swarmLeaveRoute, swarmListRoute, swarmStatusRoute
} from './swarms.ts'
import { toolListRoute } from './tools.ts'
import { blobUploadRoute, taskFileRoute } from './blobs.ts'
import { modelsRoute } from './models.ts'
import { taskApproveRoute, taskCancelRoute, taskListRoute, taskPlanRoute, taskRejectRoute, taskShowRoute, taskSubmitRoute } from './tasks.ts'

/** Every control API route. Adding one is a file in this folder and a line here. */
export const routes: Route[] = [
  dashboardPageRoute,
  dashboardScriptRoute,
  dashboardStyleRoute,
  overviewRoute,
  eventsRoute,
  idRoute,
  metricsRoute,
  statusRoute,
  peersRoute,
  joinRoute,
  leaveRoute,
  blockRoute,
  unblockRoute,
  blockListRoute,
  allowRoute,
  disallowRoute,
  allowListRoute,
  memoryNamespacesRoute,
  memoryStoreRoute,
  memoryStoreBatchRoute,
  memoryGetRoute,
  memoryListRoute,
  memoryDeleteRoute,
  swarmListRoute,
  swarmInitRoute,
  swarmStatusRoute,
  swarmJoinRoute,
  swarmLeaveRoute,
  swarmEventsRoute,
  patternStoreRoute,
  patternQueryRoute,
  patternStatsRoute,
  patternListRoute,
  patternForgetRoute,
  patternOutcomeRoute,
  patternConsolidateRoute,
  taskSubmitRoute,
  taskPlanRoute,
  taskListRoute,
  taskShowRoute,
  taskCancelRoute,
  taskApproveRoute,
  taskRejectRoute,
  agentListRoute,
  agentCardRoute,
  a2aRoute,
  toolListRoute,
  blobUploadRoute,
  taskFileRoute,
  modelsRoute,
  agentRolesRoute,
  agentRoleShareRoute,
  agentSpawnRoute,
  budgetShowRoute,
  budgetSetRoute
]
