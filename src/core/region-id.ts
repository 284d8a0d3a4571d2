// A region's id, as named in a steering policy ("eu-central"). A leaf: health, steering, state and
// the ops API all speak of regions, and none of them should have to import another to say so.
export type RegionId = string;
