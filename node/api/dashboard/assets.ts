import { readFile } from 'node:fs/promises'

export type AssetName = 'page' | 'script' | 'style'

export interface Asset {
  contentType: string
  body: string
}

const FILES: Record<AssetName, { file: string, contentType: string }> = {
  page: { file: 'index.html', contentType: 'text/html; charset=utf-8' },
  script: { file: 'app.js', contentType: 'text/javascript; charset=utf-8' },
  style: { file: 'style.css', contentType: 'text/css; charset=utf-8' }
}

const loaded = new Map<AssetName, Promise<Asset>>()

/** The dashboard's static files, next to this module, read once per process. */
export async function dashboardAsset (name: AssetName): Promise<Asset> {
  let asset = loaded.get(name)
  if (asset === undefined) {
    const { file, contentType } = FILES[name]
    asset = readFile(new URL(file, import.meta.url), 'utf8').then((body) => ({ contentType, body }))
    loaded.set(name, asset)
  }
  return asset
}
