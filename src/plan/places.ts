// Where client populations live, for `regiondns plan`: one representative point per country (the
// centroid of its Natural Earth 1:110m shape, from world-atlas). Steering decides by location, so a
// country's clients are judged at its centroid; large countries spanning two regions' catchments
// are approximated, which the plan output says.

import { geoCentroid } from 'd3-geo';
import { createRequire } from 'node:module';
import { feature } from 'topojson-client';
import type { Feature, Geometry } from 'geojson';
import type { GeometryCollection, Topology } from 'topojson-specification';
import type { GeoPoint } from '../geo/types.js';

export interface Place {
  name: string;
  point: GeoPoint;
}

let cache: Place[] | null = null;

export function countryPlaces(): Place[] {
  if (cache) return cache;
  const require = createRequire(import.meta.url);
  const topology = require('world-atlas/countries-110m.json') as Topology<{ countries: GeometryCollection<{ name: string }> }>;
  const fc = feature(topology, topology.objects.countries);
  const features = (fc.type === 'FeatureCollection' ? fc.features : [fc]) as Feature<Geometry, { name: string }>[];
  cache = features
    .map((f) => {
      const [lon, lat] = geoCentroid(f);
      return { name: f.properties?.name ?? String(f.id), point: { lat, lon } };
    })
    .filter((p) => Number.isFinite(p.point.lat) && Number.isFinite(p.point.lon))
    .sort((a, b) => a.name.localeCompare(b.name));
  return cache;
}
