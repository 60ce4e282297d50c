import { dashboardAsset, type AssetName } from '../dashboard/assets.ts'
import { buildOverview } from '../dashboard/overview.ts'
import { RawResponse, type Route } from '../route.ts'
import type { Overview } from '../types.ts'

function assetRoute (path: string, name: AssetName): Route {
  return {
    method: 'GET',
    path,
    handle: async () => {
      const asset = await dashboardAsset(name)
      return new RawResponse(asset.contentType, asset.body)
    }
  }
}

/** The dashboard page and its script and style: same origin as the API, nothing fetched elsewhere. */
export const dashboardPageRoute = assetRoute('/', 'page')
export const dashboardScriptRoute = assetRoute('/dashboard/app.js', 'script')
export const dashboardStyleRoute = assetRoute('/dashboard/style.css', 'style')

/** What the dashboard shows, in one document (also read by `peerflow status --watch`). */
export const overviewRoute: Route = {
  method: 'GET',
  path: '/overview',
  handle: ({ node }): Overview => buildOverview(node)
}
