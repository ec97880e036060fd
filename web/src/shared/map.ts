/**
 * The offline-capable map both pages draw: Leaflet with XYZ tiles when a tile URL is configured, otherwise a
 * plain background with a coordinate grid the page draws itself, so a map with no tiles and no network is
 * never blank. Nothing here fetches anything but the configured tiles.
 */
import * as L from "leaflet";

/** How a page draws its maps (the server's configuration). */
export interface MapConfig {
  /** An XYZ tile URL template (`…/{z}/{x}/{y}.png`), or null to draw the coordinate grid. */
  readonly tile_url: string | null;
  /** Credit for the tiles, shown on the map when tiles are drawn. */
  readonly tile_attribution: string;
  /** The deepest zoom level the tiles offer. */
  readonly max_zoom: number;
}

/** A Leaflet map in `container` with the configured base layer (tiles, or the coordinate grid). */
export function createMap(container: HTMLElement, config: MapConfig, options: L.MapOptions = {}): L.Map {
  const map = L.map(container, {
    attributionControl: config.tile_url !== null,
    maxZoom: config.max_zoom,
    ...options,
  });
  baseLayer(config).addTo(map);
  return map;
}

/** The configured tiles, or a {@link CoordinateGrid} when there are none. */
export function baseLayer(config: MapConfig): L.GridLayer {
  if (config.tile_url !== null) {
    return L.tileLayer(config.tile_url, { maxZoom: config.max_zoom, attribution: config.tile_attribution });
  }
  return new CoordinateGrid({ maxZoom: config.max_zoom });
}

/**
 * Latitude and longitude lines, labelled in degrees, about two per tile whatever the zoom. Colours come from the
 * map container's CSS custom properties `--map-grid-line` and `--map-grid-label`; call `redraw()` after a theme
 * change.
 */
export class CoordinateGrid extends L.GridLayer {
  protected override createTile(coords: L.Coords): HTMLElement {
    const size = this.getTileSize();
    const canvas = document.createElement("canvas");
    canvas.width = size.x;
    canvas.height = size.y;
    const context = canvas.getContext("2d");
    if (context === null) return canvas;
    const origin = L.point(coords.x * size.x, coords.y * size.y);
    const northWest = this._map.unproject(origin, coords.z);
    const southEast = this._map.unproject(origin.add(size), coords.z);
    const step = niceStep((southEast.lng - northWest.lng) / 2);
    const decimals = Math.max(0, -Math.floor(Math.log10(step)));
    const style = getComputedStyle(this._map.getContainer());
    context.strokeStyle = style.getPropertyValue("--map-grid-line").trim() || "#9aa3ad";
    context.fillStyle = style.getPropertyValue("--map-grid-label").trim() || "#39424c";
    context.lineWidth = 1;
    context.font = "11px sans-serif";
    const pixel = (lat: number, lng: number): L.Point => this._map.project([lat, lng], coords.z).subtract(origin);
    for (let lng = Math.ceil(northWest.lng / step) * step; lng < southEast.lng; lng += step) {
      const x = Math.round(pixel(northWest.lat, lng).x) + 0.5;
      context.beginPath();
      context.moveTo(x, 0);
      context.lineTo(x, size.y);
      context.stroke();
      context.fillText(`${lng.toFixed(decimals)}°`, x + 3, size.y - 4);
    }
    for (let lat = Math.ceil(southEast.lat / step) * step; lat < northWest.lat; lat += step) {
      const y = Math.round(pixel(lat, northWest.lng).y) + 0.5;
      context.beginPath();
      context.moveTo(0, y);
      context.lineTo(size.x, y);
      context.stroke();
      context.fillText(`${lat.toFixed(decimals)}°`, 3, y - 3);
    }
    return canvas;
  }
}

/** The smallest of 1, 2 or 5 times a power of ten that is at least `span`. */
export function niceStep(span: number): number {
  const power = 10 ** Math.floor(Math.log10(span));
  for (const factor of [1, 2, 5]) if (factor * power >= span) return factor * power;
  return 10 * power;
}
