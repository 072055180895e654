// The maps' common ground (dashboard and alert page): a Leaflet map over the configured tile server, or,
// with none (the default, and every test), the bundled offline base map: Natural Earth countries and US
// states, their names shown from zoom 4, and the operator's roads if a file of them is configured.
// Nothing is fetched from another site.
"use strict";
const SGMap = (() => {
  function create(id, options = {}) {
    const map = L.map(id, { zoomSnap: 0.5, worldCopyJump: true, minZoom: 2, maxZoom: 18, ...options });
    const tiles = document.body.dataset.tiles;
    if (tiles) L.tileLayer(tiles, { attribution: document.body.dataset.attribution || "", maxZoom: 19 }).addTo(map);
    else offline(map).catch(() => {});
    L.control.scale({ imperial: false }).addTo(map);
    // Names of the trips' places: under the trucks (markers 600), and only once zoomed in enough to
    // have room for them (far out they would cover the trucks they name the way of).
    map.createPane("names").style.zIndex = 450;
    const roomy = () => map.getContainer().classList.toggle("crowded", map.getZoom() < 7);
    map.on("zoomend", roomy);
    map.setView([31, -99], 5);  // until the page knows what to show
    roomy();
    return map;
  }

  let data = null;  // the files, fetched once per page
  async function offline(map) {
    map.createPane("base").style.zIndex = 150;
    // Names in a pane of their own above the fills: in one pane with the SVG, a label high on the map
    // (a negative marker z-index) was drawn under the country fill and vanished.
    map.createPane("basenames").style.zIndex = 160;
    map.getContainer().classList.add("offline");
    map.attributionControl.addAttribution("Natural Earth, US Census, GeoNames");
    data = data || Promise.all(["countries-50m", "states-10m", "cities"].map(f => fetch(`/static/vendor/${f}.json`).then(r => r.json())));
    const [world, us, cities] = await data;
    const countries = topojson.feature(world, world.objects.countries);
    // drawn on a canvas: the world's outlines as SVG paths were the slowest part of a first paint and a zoom
    const canvas = L.canvas({ pane: "base", padding: 0.2 });
    L.geoJSON(countries, { pane: "base", renderer: canvas, interactive: false,
      style: { color: "#829ab1", weight: 1, fillColor: "#f7f9fb", fillOpacity: 1 } }).addTo(map);
    L.geoJSON(topojson.mesh(us, us.objects.states, (a, b) => a !== b), { pane: "base", renderer: canvas, interactive: false,
      style: { color: "#9fb3c8", weight: 0.8, dashArray: "4 3" } }).addTo(map);
    const names = L.layerGroup();
    for (const f of countries.features.concat(topojson.feature(us, us.objects.states).features)) {
      const name = f.properties && f.properties.name;
      if (!name || name === "United States of America") continue;
      const label = document.createElement("span"); label.textContent = name;
      names.addLayer(L.marker(L.geoJSON(f).getBounds().getCenter(), { pane: "basenames", interactive: false, keyboard: false,
        icon: L.divIcon({ className: "place-name", html: label, iconSize: null }) }));
    }
    const toggle = () => map.getZoom() >= 4 ? names.addTo(map) : names.remove();
    map.on("zoomend", toggle); toggle();
    // Cities and towns: the bigger ones first as one zooms in, only those in view (a few hundred markers
    // at most, never all nine thousand).
    const towns = L.layerGroup().addTo(map);
    const least = z => z < 5 ? 5e6 : z < 6 ? 1e6 : z < 7 ? 3e5 : z < 8 ? 1e5 : 5e4;
    const place = () => {
      const view = map.getBounds().pad(0.1), floor = least(map.getZoom());
      towns.clearLayers();
      const taken = [];  // labels placed so far, in pixels: a smaller town never writes over a bigger one
      for (const [name, lon, lat, people] of cities) {
        if (people < floor) break;  // sorted by population, largest first
        if (!view.contains([lat, lon])) continue;
        const p = map.latLngToContainerPoint([lat, lon]), box = [p.x - 4, p.y - 9, p.x + 12 + name.length * 6.5, p.y + 7];
        if (taken.some(b => box[0] < b[2] && b[0] < box[2] && box[1] < b[3] && b[1] < box[3])) continue;
        taken.push(box);
        const label = document.createElement("span"); label.textContent = name;
        towns.addLayer(L.marker([lat, lon], { pane: "basenames", interactive: false, keyboard: false,
          icon: L.divIcon({ className: "town" + (people >= 1e6 ? " big" : ""), html: label, iconSize: null }) }));
      }
    };
    map.on("moveend", place); place();
    if (document.body.dataset.roads) roads(map);
  }

  // The operator's roads (SEALGUARD_MAP_ROADS), above the fills and under every name: fetched as tiles of
  // the view at the map's zoom (at most 10; the server sends motorways from 5, main roads from 7, the rest
  // from 9), each road drawn once however many tiles it crosses, all redrawn when the zoom changes.
  function roads(map) {
    map.createPane("roads").style.zIndex = 155;
    const renderer = L.canvas({ pane: "roads", padding: 0.2 });
    const layer = L.layerGroup().addTo(map);
    const styles = [{ color: "#e8912d", weight: 3 }, { color: "#f2c14e", weight: 2 }, { color: "#b8c2cc", weight: 1 }];
    const state = window.sealguardRoads = { zoom: -1, drawn: 0, tiles: 0 };
    let drawn = new Set(), asked = new Set();
    const load = () => {
      const z = Math.min(Math.floor(map.getZoom()), 10);
      if (z !== state.zoom) { layer.clearLayers(); drawn = new Set(); asked = new Set(); Object.assign(state, { zoom: z, drawn: 0, tiles: 0 }); }
      if (z < 5) return;
      const b = map.getBounds(), n = 2 ** z, clamp = v => Math.max(0, Math.min(n - 1, v));
      const tx = lon => clamp(Math.floor((lon + 180) / 360 * n));
      const ty = lat => { const r = Math.max(-85, Math.min(85, lat)) * Math.PI / 180;
        return clamp(Math.floor((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2 * n)); };
      for (let x = tx(b.getWest()); x <= tx(b.getEast()); x++)
        for (let y = ty(b.getNorth()); y <= ty(b.getSouth()); y++) {
          const key = `${z}/${x}/${y}`;
          if (asked.has(key)) continue;
          asked.add(key);
          fetch(`/basemap/roads/${key}.json`).then(r => r.ok ? r.json() : []).then(rows => {
            if (z !== state.zoom) return;  // zoomed meanwhile: this tile's lines are for another scale
            for (const [id, rank, , lines] of rows) {
              if (drawn.has(id)) continue;
              drawn.add(id);
              layer.addLayer(L.polyline(lines.map(l => l.map(([lon, lat]) => [lat, lon])),
                { renderer, interactive: false, ...(styles[rank] || styles[2]) }));
            }
            state.drawn = drawn.size; state.tiles += 1;
          }).catch(() => asked.delete(key));
        }
    };
    map.on("moveend", load); load();
  }

  // Pixels per metre at a latitude and zoom (Web Mercator): for lines whose width is a distance (a corridor).
  function pxPerMetre(map, lat) {
    return 256 * Math.pow(2, map.getZoom()) / (40075016.686 * Math.cos(lat * Math.PI / 180));
  }

  // A trip's place (origin, destination, approved stop) to scale, named above it in the "names" pane.
  function place(at, radius, name) {
    return L.circle(at, { radius: radius || 500, color: "#558b2f", weight: 1, fillColor: "#c5e1a5", fillOpacity: 0.6, className: "place" })
      .bindTooltip(name, { permanent: true, direction: "top", className: "facility-name", offset: [0, -6], pane: "names" });
  }

  return { create, place, pxPerMetre };
})();
