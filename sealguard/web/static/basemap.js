// The maps' common ground (dashboard and alert page): a Leaflet map over the configured tile server, or,
// with none (the default, and every test), the bundled offline base map: Natural Earth countries and US
// states, their names shown from zoom 4. Nothing is fetched from another site.
"use strict";
const SGMap = (() => {
  function create(id, options = {}) {
    const map = L.map(id, { zoomSnap: 0.5, worldCopyJump: true, minZoom: 2, maxZoom: 18, ...options });
    const tiles = document.body.dataset.tiles;
    if (tiles) L.tileLayer(tiles, { attribution: document.body.dataset.attribution || "", maxZoom: 19 }).addTo(map);
    else offline(map).catch(() => {});
    L.control.scale({ imperial: false }).addTo(map);
    map.setView([31, -99], 5);  // until the page knows what to show
    return map;
  }

  let data = null;  // the two files, fetched once per page
  async function offline(map) {
    map.createPane("base").style.zIndex = 150;
    map.getContainer().classList.add("offline");
    data = data || Promise.all([fetch("/static/vendor/countries-50m.json").then(r => r.json()),
                                fetch("/static/vendor/states-10m.json").then(r => r.json())]);
    const [world, us] = await data;
    const countries = topojson.feature(world, world.objects.countries);
    L.geoJSON(countries, { pane: "base", interactive: false,
      style: { color: "#829ab1", weight: 1, fillColor: "#f7f9fb", fillOpacity: 1 } }).addTo(map);
    L.geoJSON(topojson.mesh(us, us.objects.states, (a, b) => a !== b), { pane: "base", interactive: false,
      style: { color: "#9fb3c8", weight: 0.8, dashArray: "4 3" } }).addTo(map);
    const names = L.layerGroup();
    for (const f of countries.features.concat(topojson.feature(us, us.objects.states).features)) {
      const name = f.properties && f.properties.name;
      if (!name || name === "United States of America") continue;
      const label = document.createElement("span"); label.textContent = name;
      names.addLayer(L.marker(L.geoJSON(f).getBounds().getCenter(), { pane: "base", interactive: false, keyboard: false,
        icon: L.divIcon({ className: "place-name", html: label, iconSize: null }) }));
    }
    const toggle = () => map.getZoom() >= 4 ? names.addTo(map) : names.remove();
    map.on("zoomend", toggle); toggle();
  }

  // Pixels per metre at a latitude and zoom (Web Mercator): for lines whose width is a distance (a corridor).
  function pxPerMetre(map, lat) {
    return 256 * Math.pow(2, map.getZoom()) / (40075016.686 * Math.cos(lat * Math.PI / 180));
  }

  return { create, pxPerMetre };
})();
