// The world map: Natural Earth country shapes (world-atlas, 1:110m) in an equal-area-looking
// projection, with regions and an explained client drawn on top. Pure functions from data to SVG
// path strings and points; the view draws them.

import { geoNaturalEarth1, geoPath, geoGraticule10, geoInterpolate } from 'd3-geo';
import { feature } from 'topojson-client';
import type { GeometryCollection, Topology } from 'topojson-specification';
import countries110m from 'world-atlas/countries-110m.json';
import type { GeoPoint } from './types.js';

export const MAP_WIDTH = 960;
export const MAP_HEIGHT = 500;

const projection = geoNaturalEarth1().fitSize([MAP_WIDTH, MAP_HEIGHT], { type: 'Sphere' });
const path = geoPath(projection);

const topology = countries110m as unknown as Topology<{ countries: GeometryCollection }>;
const land = feature(topology, topology.objects.countries);

/** Drawn once: the sphere's outline, a graticule and the countries. */
export const BASEMAP = {
  sphere: path({ type: 'Sphere' }) ?? '',
  graticule: path(geoGraticule10()) ?? '',
  countries: (land.type === 'FeatureCollection' ? land.features : [land]).map((f) => path(f) ?? ''),
};

export function project(p: GeoPoint): [number, number] | null {
  return projection([p.lon, p.lat]);
}

/** A great-circle arc from a to b, as an SVG path. */
export function arc(a: GeoPoint, b: GeoPoint): string {
  const interp = geoInterpolate([a.lon, a.lat], [b.lon, b.lat]);
  const coordinates = Array.from({ length: 33 }, (_, i) => interp(i / 32));
  return path({ type: 'LineString', coordinates }) ?? '';
}
