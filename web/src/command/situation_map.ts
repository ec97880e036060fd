/**
 * The control room's map: units as markers coloured by status, with call sign, heading and position age;
 * pending alerts as pulsing markers; the selected incident's area, which the operator resizes (a handle on the
 * circle's edge, or the radius field) or redraws as a polygon (clicks on the map); officers in danger as red
 * rings with their call sign, which the map follows while their emergency is open.
 */
import * as L from "leaflet";
import { element, setText } from "../shared/dom";
import { createMap, type MapConfig } from "../shared/map";
import { age, secondsSince } from "./format";
import type { GeoJsonArea, PendingAlert, Unit, UnitPosition, UnitStatus } from "./types";

interface UnitMarker {
  readonly marker: L.Marker;
  readonly root: HTMLElement;
  readonly heading: HTMLElement;
  readonly call: HTMLElement;
  readonly age: HTMLElement;
  at: string;
}

/** What the operator drew: a circle (centre, radius) or a polygon (its corners). */
export type DrawnArea =
  | { readonly kind: "circle"; readonly lat: number; readonly lon: number; readonly radius_m: number }
  | { readonly kind: "polygon"; readonly corners: readonly L.LatLng[] };

/** The GeoJSON the server takes for a drawn area. */
export function areaGeoJson(area: DrawnArea): object {
  if (area.kind === "circle") {
    return {
      type: "Feature",
      geometry: { type: "Point", coordinates: [area.lon, area.lat] },
      properties: { radius_m: Math.round(area.radius_m) },
    };
  }
  const ring = area.corners.map((corner) => [corner.lng, corner.lat]);
  const first = ring[0];
  if (first !== undefined) ring.push(first);
  return { type: "Polygon", coordinates: [ring] };
}

/** Read the server's area (a circle Feature, or a Polygon or a Feature of one). */
export function drawnArea(area: GeoJsonArea): DrawnArea | null {
  const geometry = area.type === "Feature" ? area.geometry : area;
  if (geometry === undefined) return null;
  if (geometry.type === "Point") {
    const [lon, lat] = geometry.coordinates as [number, number];
    return { kind: "circle", lat, lon, radius_m: area.properties?.radius_m ?? 0 };
  }
  if (geometry.type === "Polygon") {
    const ring = (geometry.coordinates as [number, number][][])[0] ?? [];
    return { kind: "polygon", corners: ring.slice(0, -1).map(([lon, lat]) => L.latLng(lat, lon)) };
  }
  return null;
}

export class SituationMap {
  readonly map: L.Map;
  private readonly units = new Map<string, UnitMarker>();
  private readonly alerts = new Map<string, L.Marker>();
  private readonly emergencies = new Map<string, L.Marker>();
  private readonly areaLayer = L.layerGroup();
  private highlighted = new Set<string>();
  private drawing: { points: L.LatLng[]; line: L.Polyline; done: (corners: L.LatLng[]) => void } | null = null;
  private framed = false;

  constructor(container: HTMLElement, config: MapConfig) {
    this.map = createMap(container, config, { zoomControl: true, keyboard: true });
    this.map.setView([51.5074, -0.1278], 13);
    this.areaLayer.addTo(this.map);
    this.map.on("click", (event: L.LeafletMouseEvent) => this.addCorner(event.latlng));
    window.setInterval(() => this.tick(), 1000);
  }

  /** Place or update a unit (from the unit list, or a unit.changed entry). */
  setUnit(unit: Pick<Unit, "unit_id" | "call_sign" | "status"> & { position?: UnitPosition | null }): void {
    let shown = this.units.get(unit.unit_id);
    if (shown === undefined) {
      if (unit.position === undefined || unit.position === null) return;
      shown = this.makeUnit(unit.unit_id, unit.position);
    }
    if (unit.position) this.moveUnit(unit.unit_id, unit.position);
    shown.root.dataset["status"] = unit.status;
    shown.root.className = `unit-marker status-${unit.status}${this.highlighted.has(unit.unit_id) ? " in-area" : ""}`;
    setText(shown.call, unit.call_sign);
    shown.root.title = `${unit.call_sign}: ${unit.status.replaceAll("_", " ")}`;
  }

  /** Move a unit to a new position (a unit.position entry); creates it when first seen. */
  moveUnit(unitId: string, position: UnitPosition): void {
    const shown = this.units.get(unitId) ?? this.makeUnit(unitId, position);
    shown.marker.setLatLng([position.lat, position.lon]);
    shown.at = position.at;
    shown.heading.hidden = position.heading_deg === null;
    shown.heading.style.transform = `rotate(${position.heading_deg ?? 0}deg)`;
    setText(shown.age, age(secondsSince(position.at)));
    if (!this.framed && this.units.size === 1) this.frameUnits(); // the first unit on an empty map
  }

  /** Set a unit's status colour (a unit.changed entry). */
  setStatus(unitId: string, status: UnitStatus, callSign: string): void {
    const shown = this.units.get(unitId);
    if (shown === undefined) return;
    this.setUnit({ unit_id: unitId, call_sign: callSign, status });
  }

  /** Mark the units inside the selected incident's area. */
  highlight(unitIds: ReadonlySet<string>): void {
    this.highlighted = new Set(unitIds);
    for (const [unitId, shown] of this.units) shown.root.classList.toggle("in-area", unitIds.has(unitId));
  }

  /** Show a pending alert as a pulsing marker (at the camera's place). */
  addAlert(alert: PendingAlert, open: (alertId: string) => void): void {
    if (alert.lat === null || alert.lat === undefined || alert.lon === null || alert.lon === undefined) return;
    if (this.alerts.has(alert.alert_id)) return;
    const icon = L.divIcon({
      className: "alert-icon",
      html: element("div", { class: "alert-pulse", "data-alert": alert.alert_id }),
      iconSize: [28, 28],
    });
    const marker = L.marker([alert.lat, alert.lon], { icon, keyboard: true, title: `Alert: ${alert.subject_id}` });
    marker.on("click", () => open(alert.alert_id));
    marker.addTo(this.map);
    this.alerts.set(alert.alert_id, marker);
  }

  removeAlert(alertId: string): void {
    this.alerts.get(alertId)?.remove();
    this.alerts.delete(alertId);
  }

  /** Mark an officer in danger at their latest position (a red ring and their call sign), or move the mark. */
  markEmergency(emergencyId: string, callSign: string, lat: number, lon: number): void {
    const shown = this.emergencies.get(emergencyId);
    if (shown !== undefined) {
      shown.setLatLng([lat, lon]);
      return;
    }
    const ring = element(
      "div",
      { class: "emergency-mark", "data-emergency": emergencyId },
      element("span", { class: "emergency-call" }, `SOS ${callSign}`),
    );
    // Above every other marker, yet never in the way of a click on the unit it surrounds.
    const icon = L.divIcon({ className: "emergency-icon", html: ring, iconSize: [72, 72] });
    const marker = L.marker([lat, lon], { icon, keyboard: false, interactive: false, zIndexOffset: 10_000 });
    marker.addTo(this.map);
    this.emergencies.set(emergencyId, marker);
  }

  unmarkEmergency(emergencyId: string): void {
    this.emergencies.get(emergencyId)?.remove();
    this.emergencies.delete(emergencyId);
  }

  /**
   * Centre on an officer in danger at once (no animation: the map is where the officer is the moment it moves);
   * with `closer`, zoom in to street level too (the first time), else keep the operator's zoom.
   */
  follow(lat: number, lon: number, closer: boolean): void {
    this.map.setView([lat, lon], closer ? Math.max(this.map.getZoom(), 17) : this.map.getZoom(), { animate: false });
  }

  /** Centre on a place, closer in. */
  focus(lat: number, lon: number, zoom = 15): void {
    this.map.setView([lat, lon], zoom);
  }

  /**
   * Draw an incident's target and area. Given `resized`, a circle gets a handle on its edge: dragging it resizes
   * the circle and calls `resized` with the new radius.
   */
  showArea(
    target: { lat: number; lon: number } | null,
    area: DrawnArea | null,
    resized: ((radius_m: number) => void) | null,
  ): void {
    this.areaLayer.clearLayers();
    if (target !== null) {
      L.marker([target.lat, target.lon], {
        icon: L.divIcon({ className: "target-icon", html: element("div", { class: "target-mark" }), iconSize: [26, 26] }),
        title: "Last seen here",
        keyboard: false,
      }).addTo(this.areaLayer);
    }
    if (area === null) return;
    if (area.kind === "polygon") {
      L.polygon(area.corners as L.LatLng[], { className: "incident-area" }).addTo(this.areaLayer);
      return;
    }
    const circle = L.circle([area.lat, area.lon], { radius: area.radius_m, className: "incident-area" });
    circle.addTo(this.areaLayer);
    // No zoom animation: the area and its handle are where they will stay the moment they are drawn.
    this.map.fitBounds(circle.getBounds(), { padding: [30, 30], maxZoom: 17, animate: false });
    if (resized === null) return;
    const handle = L.marker(this.edgeOf(area), {
      draggable: true,
      keyboard: false,
      title: "Drag to resize the area",
      icon: L.divIcon({ className: "area-handle-icon", html: element("div", { class: "area-handle" }), iconSize: [22, 22] }),
    });
    handle.on("drag", () => circle.setRadius(this.map.distance([area.lat, area.lon], handle.getLatLng())));
    handle.on("dragend", () => resized(this.map.distance([area.lat, area.lon], handle.getLatLng())));
    handle.addTo(this.areaLayer);
  }

  /** Start drawing a polygon: each click on the map adds a corner; {@link finishPolygon} closes it. */
  startPolygon(done: (corners: L.LatLng[]) => void): void {
    this.cancelPolygon();
    const line = L.polyline([], { className: "drawing-line" }).addTo(this.map);
    this.drawing = { points: [], line, done };
    this.map.getContainer().classList.add("drawing");
  }

  /** How many corners the polygon being drawn has (0 when none is). */
  get corners(): number {
    return this.drawing?.points.length ?? 0;
  }

  finishPolygon(): void {
    const drawing = this.drawing;
    if (drawing === null || drawing.points.length < 3) return;
    this.cancelPolygon();
    drawing.done(drawing.points);
  }

  cancelPolygon(): void {
    this.drawing?.line.remove();
    this.drawing = null;
    this.map.getContainer().classList.remove("drawing");
  }

  /** Redraw after the page's layout or theme changed. */
  refresh(): void {
    this.map.invalidateSize();
    this.map.eachLayer((layer) => {
      if (layer instanceof L.GridLayer) layer.redraw();
    });
  }

  private addCorner(at: L.LatLng): void {
    if (this.drawing === null) return;
    this.drawing.points.push(at);
    this.drawing.line.setLatLngs(this.drawing.points);
    this.map.getContainer().dispatchEvent(new CustomEvent("corner-added", { bubbles: true }));
  }

  private edgeOf(area: { lat: number; lon: number; radius_m: number }): L.LatLng {
    const metresPerDegree = 111_320 * Math.cos((area.lat * Math.PI) / 180);
    return L.latLng(area.lat, area.lon + area.radius_m / metresPerDegree);
  }

  private makeUnit(unitId: string, position: UnitPosition): UnitMarker {
    const heading = element("span", { class: "heading", "aria-hidden": "true" }, "▲");
    const call = element("span", { class: "call" }, unitId);
    const ageText = element("span", { class: "age" });
    const root = element("div", { class: "unit-marker", "data-unit": unitId }, heading, call, ageText);
    const icon = L.divIcon({ className: "unit-icon", html: root, iconSize: [0, 0] });
    const marker = L.marker([position.lat, position.lon], { icon, keyboard: false }).addTo(this.map);
    const shown: UnitMarker = { marker, root, heading, call, age: ageText, at: position.at };
    this.units.set(unitId, shown);
    return shown;
  }

  /** Show every unit (after the page loaded them). */
  frameUnits(): void {
    const points = [...this.units.values()].map((shown) => shown.marker.getLatLng());
    if (points.length === 0) return;
    this.framed = true;
    // No zoom animation: one still running would finish at its own view, over an officer in danger's.
    this.map.fitBounds(L.latLngBounds(points), { padding: [60, 60], maxZoom: 16, animate: false });
  }

  private tick(): void {
    for (const shown of this.units.values()) {
      const seconds = secondsSince(shown.at);
      setText(shown.age, age(seconds));
      shown.root.classList.toggle("stale", seconds > 120);
    }
  }
}
