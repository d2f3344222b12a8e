//! Clusters: groups of elements that sit close together on the screen (DBSCAN over element
//! boxes with the gap between boxes as distance, pipeline stage 2), and ReALM Algorithm 1,
//! the surrounding objects of an entity within its cluster.
//!
//! linfa's DBSCAN with its linear search is O(n^2) (~18 ms for 2,000 boxes on 2 cores); the
//! gap distance is not a metric, so linfa's trees do not apply. [`BoxGrid`] is a uniform grid
//! over the boxes that implements linfa-nn's index traits and answers range queries exactly.

use linfa::traits::Transformer;
use linfa::{Float, ParamGuard};
use linfa_clustering::Dbscan;
use linfa_nn::distance::Distance;
use linfa_nn::{BuildError, NearestNeighbour, NearestNeighbourIndex, NnError};
use ndarray::{Array2, ArrayBase, ArrayView, ArrayView1, Data, Dimension, Ix2};

use crate::element::{Rect, Screen};

/// DBSCAN settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClusterConfig {
    /// Neighbourhood radius as a fraction of the screen height: two boxes are neighbours when
    /// the gap between them is below `eps * height`.
    pub eps: f64,
    /// Boxes (itself included) within `eps` that make a box a core point; at least 2.
    pub min_points: usize,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            eps: 0.025,
            min_points: 2,
        }
    }
}

/// The clusters of a screen: a cluster number per element (indices into `Screen::elements`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clusters {
    /// Cluster of each element; `None` for elements without a box or left out of the parse.
    /// Noise points and containers get a cluster of their own.
    pub of: Vec<Option<usize>>,
    pub count: usize,
}

impl Clusters {
    /// Members of each cluster, in element order.
    pub fn members(&self) -> Vec<Vec<usize>> {
        let mut members = vec![Vec::new(); self.count];
        for (i, c) in self.of.iter().enumerate() {
            if let Some(c) = c {
                members[*c].push(i);
            }
        }
        members
    }
}

/// Which side of an entity a surrounding object is on (the larger of the two gaps decides;
/// overlapping boxes are `Over`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Above,
    Below,
    Left,
    Right,
    Over,
}

/// Which of the boxed elements `included` (indices into `screen.elements`, all with a box)
/// are containers: boxes that hold the centres of two or more other boxes, like a window's
/// background panel or a toolbar.
pub fn containers(screen: &Screen, included: &[usize]) -> Vec<bool> {
    let grid = BoxGrid::new(
        included
            .iter()
            .filter_map(|&i| screen.elements[i].bounds)
            .collect(),
    );
    (0..grid.rects.len())
        .map(|k| grid.holds_centres(k, 2))
        .collect()
}

/// Clusters the boxed elements `included` (indices into `screen.elements`, all with a box);
/// `is_container` is [`containers`] of the same list.
///
/// Containers do not join clusters: with a gap distance they touch everything and would chain
/// the whole screen into one cluster. They get a cluster of their own.
pub fn cluster(
    screen: &Screen,
    included: &[usize],
    is_container: &[bool],
    config: &ClusterConfig,
) -> Clusters {
    let n = screen.elements.len();
    let mut of = vec![None; n];
    let boxes: Vec<(usize, Rect)> = included
        .iter()
        .filter_map(|&i| screen.elements[i].bounds.map(|r| (i, r)))
        .collect();
    debug_assert_eq!(boxes.len(), is_container.len());
    let leaves: Vec<usize> = (0..boxes.len()).filter(|&k| !is_container[k]).collect();
    let mut records = Array2::<f64>::zeros((leaves.len(), 4));
    for (row, &k) in leaves.iter().enumerate() {
        let r = boxes[k].1;
        records
            .row_mut(row)
            .assign(&ndarray::arr1(&[r.x1, r.y1, r.x2, r.y2]));
    }
    let eps = (config.eps * screen.size.height).max(f64::MIN_POSITIVE);
    let memberships = if leaves.is_empty() {
        ndarray::Array1::from_elem(0, None)
    } else {
        // `params_with` only fails validation for min_points < 2 or eps <= 0: both clamped.
        match Dbscan::params_with(config.min_points.max(2), BoxGap, GridSearch)
            .tolerance(eps)
            .check()
        {
            Ok(params) => params.transform(&records),
            Err(_) => ndarray::Array1::from_elem(leaves.len(), None),
        }
    };
    let mut count = memberships
        .iter()
        .flatten()
        .map(|c| c + 1)
        .max()
        .unwrap_or(0);
    for (row, &k) in leaves.iter().enumerate() {
        of[boxes[k].0] = Some(memberships[row].unwrap_or_else(|| {
            count += 1;
            count - 1
        }));
    }
    for (k, (i, _)) in boxes.iter().enumerate() {
        if is_container[k] {
            of[*i] = Some(count);
            count += 1;
        }
    }
    Clusters { of, count }
}

/// ReALM Algorithm 1: the objects surrounding element `index` within its cluster, nearest
/// first (by gap), at most `limit`, each with the side it is on.
pub fn surrounding(
    screen: &Screen,
    clusters: &Clusters,
    index: usize,
    limit: usize,
) -> Vec<(usize, Side)> {
    let (Some(Some(cluster)), Some(rect)) = (
        clusters.of.get(index),
        screen.elements.get(index).and_then(|e| e.bounds),
    ) else {
        return Vec::new();
    };
    let mut near: Vec<(f64, usize, Side)> = clusters
        .of
        .iter()
        .enumerate()
        .filter(|&(i, c)| i != index && *c == Some(*cluster))
        .filter_map(|(i, _)| {
            let other = screen.elements[i].bounds?;
            Some((rect.gap(&other), i, side_of(&rect, &other)))
        })
        .collect();
    near.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    near.into_iter()
        .take(limit)
        .map(|(_, i, s)| (i, s))
        .collect()
}

/// Side of `other` as seen from `rect`.
pub fn side_of(rect: &Rect, other: &Rect) -> Side {
    let (dx, dy) = rect.gaps(other);
    let (cx, cy) = rect.center();
    let (ox, oy) = other.center();
    if dx == 0.0 && dy == 0.0 {
        Side::Over
    } else if dy >= dx {
        if oy < cy {
            Side::Above
        } else {
            Side::Below
        }
    } else if ox < cx {
        Side::Left
    } else {
        Side::Right
    }
}

/// The gap between two boxes stored as rows `[x1, y1, x2, y2]`: 0 when they touch or overlap.
/// Not a metric (two disjoint boxes can both touch a third), so only exact searches apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoxGap;

impl<F: Float> Distance<F> for BoxGap {
    fn distance<D: Dimension>(&self, a: ArrayView<F, D>, b: ArrayView<F, D>) -> F {
        let (a, b) = (to_rect(a.iter()), to_rect(b.iter()));
        F::cast(a.gap(&b))
    }
}

fn to_rect<'a, F: Float + 'a>(mut it: impl Iterator<Item = &'a F>) -> Rect {
    let mut next = || it.next().and_then(|v| v.to_f64()).unwrap_or(0.0);
    let (x1, y1, x2, y2) = (next(), next(), next(), next());
    Rect::new(x1, y1, x2, y2).unwrap_or(Rect {
        x1: 0.0,
        y1: 0.0,
        x2: 0.0,
        y2: 0.0,
    })
}

/// A uniform grid over boxes: each box is listed in every cell it covers, so the boxes within
/// gap `r` of a query box are among those listed in the cells the query covers when grown by
/// `r` on every side. Exact for [`BoxGap`] (and any distance at least the larger axis gap).
#[derive(Debug, Clone)]
pub struct BoxGrid {
    rects: Vec<Rect>,
    origin: (f64, f64),
    cell: f64,
    cols: usize,
    rows: usize,
    /// Box indices per cell, row-major.
    cells: Vec<Vec<u32>>,
    /// First (column, row) cell of each box.
    first_cell: Vec<(u32, u32)>,
}

/// Upper bound on cells per axis: keeps memory linear in the number of boxes for any extent.
const MAX_CELLS_PER_AXIS: usize = 512;

impl BoxGrid {
    pub fn new(rects: Vec<Rect>) -> BoxGrid {
        let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        let mut sizes: Vec<f64> = Vec::with_capacity(rects.len());
        for r in &rects {
            x0 = x0.min(r.x1);
            y0 = y0.min(r.y1);
            x1 = x1.max(r.x2);
            y1 = y1.max(r.y2);
            sizes.push(r.area().sqrt());
        }
        if rects.is_empty() {
            (x0, y0, x1, y1) = (0.0, 0.0, 1.0, 1.0);
        }
        // Cell side: the boxes' median square-root area, so a typical box (wide or tall) covers
        // a few cells and a cell holds a few boxes; never so small that the grid exceeds
        // MAX_CELLS_PER_AXIS per axis.
        let mid = sizes.len() / 2;
        let median = if sizes.is_empty() {
            1.0
        } else {
            *sizes.select_nth_unstable_by(mid, f64::total_cmp).1
        };
        let extent = (x1 - x0).max(y1 - y0).max(1.0);
        let cell = median
            .max(extent / MAX_CELLS_PER_AXIS as f64)
            .max(1.0)
            .min(extent);
        let cols = (((x1 - x0) / cell).floor() as usize + 1).min(MAX_CELLS_PER_AXIS + 1);
        let rows = (((y1 - y0) / cell).floor() as usize + 1).min(MAX_CELLS_PER_AXIS + 1);
        let mut grid = BoxGrid {
            rects: Vec::new(),
            origin: (x0, y0),
            cell,
            cols,
            rows,
            cells: vec![Vec::new(); cols * rows],
            first_cell: Vec::with_capacity(rects.len()),
        };
        for (k, r) in rects.iter().enumerate() {
            let (c0, r0, c1, r1) = grid.span(r, 0.0);
            grid.first_cell.push((c0 as u32, r0 as u32));
            for row in r0..=r1 {
                for col in c0..=c1 {
                    grid.cells[row * cols + col].push(k as u32);
                }
            }
        }
        grid.rects = rects;
        grid
    }

    /// Cell range (col0, row0, col1, row1) covered by `r` grown by `by`, clamped to the grid.
    /// (Truncation is floor here: the values are clamped to be non-negative first, and `floor`
    /// is a library call without SSE4.1.)
    fn span(&self, r: &Rect, by: f64) -> (usize, usize, usize, usize) {
        let col = |x: f64| (((x - self.origin.0) / self.cell).max(0.0) as usize).min(self.cols - 1);
        let row = |y: f64| (((y - self.origin.1) / self.cell).max(0.0) as usize).min(self.rows - 1);
        (
            col(r.x1 - by),
            row(r.y1 - by),
            col(r.x2 + by),
            row(r.y2 + by),
        )
    }

    /// Calls `f` once for every box listed in the cells that `r` grown by `by` covers, until
    /// `f` returns false. A box listed in several of those cells is reported only from the
    /// first cell the box and the query share, so no set of seen boxes is needed.
    fn for_each_near(&self, r: &Rect, by: f64, mut f: impl FnMut(usize) -> bool) {
        let (c0, r0, c1, r1) = self.span(r, by);
        for row in r0..=r1 {
            for col in c0..=c1 {
                for &k in &self.cells[row * self.cols + col] {
                    let (kc0, kr0) = self.first_cell[k as usize];
                    let first = ((kc0 as usize).max(c0), (kr0 as usize).max(r0));
                    if first == (col, row) && !f(k as usize) {
                        return;
                    }
                }
            }
        }
    }

    /// Indices of the boxes within gap `range` (strictly less, as linfa's searches) of `r`.
    pub fn within(&self, r: &Rect, range: f64) -> Vec<usize> {
        let mut out = Vec::new();
        let range2 = range * range;
        self.for_each_near(r, range, |k| {
            let (dx, dy) = self.rects[k].gaps(r);
            // Same as `gap(r) < range` for range >= 0, without the square root.
            if range > 0.0 && dx * dx + dy * dy < range2 {
                out.push(k);
            }
            true
        });
        out
    }

    /// Whether box `k` holds the centres of at least `n` other boxes.
    pub fn holds_centres(&self, k: usize, n: usize) -> bool {
        let rect = self.rects[k];
        let mut found = 0;
        self.for_each_near(&rect, 0.0, |j| {
            if j != k && rect.contains_point(self.rects[j].center()) {
                found += 1;
            }
            found < n
        });
        found >= n
    }
}

/// linfa-nn's "algorithm" for [`BoxGrid`]: builds the grid from rows `[x1, y1, x2, y2]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GridSearch;

impl NearestNeighbour for GridSearch {
    fn from_batch_with_leaf_size<'a, F: Float, DT: Data<Elem = F>, D: 'a + Distance<F>>(
        &self,
        batch: &'a ArrayBase<DT, Ix2>,
        _leaf_size: usize,
        dist_fn: D,
    ) -> Result<Box<dyn 'a + Send + Sync + NearestNeighbourIndex<F>>, BuildError> {
        if batch.ncols() != 4 {
            return Err(BuildError::ZeroDimension);
        }
        let rects = batch
            .rows()
            .into_iter()
            .map(|row| to_rect(row.iter()))
            .collect();
        Ok(Box::new(GridIndex {
            batch: batch.view(),
            grid: BoxGrid::new(rects),
            dist_fn,
        }))
    }
}

/// A built [`BoxGrid`] with the points it was built from, as linfa-nn wants it.
#[derive(Debug)]
struct GridIndex<'a, F: Float, D> {
    batch: ArrayView<'a, F, Ix2>,
    grid: BoxGrid,
    dist_fn: D,
}

impl<F: Float, D: Distance<F>> NearestNeighbourIndex<F> for GridIndex<'_, F, D> {
    fn k_nearest(
        &self,
        point: ArrayView1<'_, F>,
        k: usize,
    ) -> Result<Vec<(ArrayView1<'_, F>, usize)>, NnError> {
        // Not used by DBSCAN; a full scan keeps it exact for any distance.
        if point.len() != 4 {
            return Err(NnError::WrongDimension);
        }
        let mut all: Vec<(F, usize)> = self
            .batch
            .rows()
            .into_iter()
            .enumerate()
            .map(|(i, row)| (self.dist_fn.distance(point.view(), row), i))
            .collect();
        all.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
        Ok(all
            .into_iter()
            .take(k)
            .map(|(_, i)| (self.batch.row(i), i))
            .collect())
    }

    fn within_range(
        &self,
        point: ArrayView1<'_, F>,
        range: F,
    ) -> Result<Vec<(ArrayView1<'_, F>, usize)>, NnError> {
        if point.len() != 4 {
            return Err(NnError::WrongDimension);
        }
        let rect = to_rect(point.iter());
        let range = range.to_f64().unwrap_or(0.0);
        // The grid's answer is exact for the gap distance; `dist_fn` is BoxGap here.
        Ok(self
            .grid
            .within(&rect, range)
            .into_iter()
            .map(|i| (self.batch.row(i), i))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use linfa_nn::LinearSearch;
    use proptest::prelude::*;

    use super::*;
    use crate::element::Element;

    fn screen(boxes: &[(f64, f64, f64, f64)]) -> Screen {
        let elements = boxes
            .iter()
            .enumerate()
            .map(|(i, &(x1, y1, x2, y2))| {
                let mut e = Element::new(i as u64, "label");
                e.bounds = Rect::new(x1, y1, x2, y2);
                e
            })
            .collect();
        Screen::new(None, elements, &mut Vec::new())
    }

    #[test]
    fn boxes_with_small_gaps_cluster_and_far_ones_do_not() {
        // Two rows of three labels 4 px apart; a lone label far below.
        let s = screen(&[
            (0.0, 0.0, 50.0, 20.0),
            (54.0, 0.0, 100.0, 20.0),
            (104.0, 0.0, 150.0, 20.0),
            (0.0, 24.0, 50.0, 44.0),
            (0.0, 500.0, 50.0, 520.0),
        ]);
        let all = [0, 1, 2, 3, 4];
        let c = cluster(
            &s,
            &all,
            &containers(&s, &all),
            &ClusterConfig {
                eps: 0.02,
                min_points: 2,
            },
        );
        assert_eq!(c.of[0], c.of[1]);
        assert_eq!(c.of[0], c.of[2]);
        assert_eq!(c.of[0], c.of[3]);
        assert_ne!(c.of[0], c.of[4]);
        assert_eq!(c.count, 2);
    }

    #[test]
    fn containers_do_not_chain_clusters() {
        // A full-screen panel behind two far-apart groups.
        let s = screen(&[
            (0.0, 0.0, 1000.0, 1000.0),
            (10.0, 10.0, 60.0, 30.0),
            (64.0, 10.0, 110.0, 30.0),
            (800.0, 900.0, 850.0, 920.0),
            (854.0, 900.0, 900.0, 920.0),
        ]);
        let all = [0, 1, 2, 3, 4];
        let c = cluster(&s, &all, &containers(&s, &all), &ClusterConfig::default());
        assert_eq!(c.of[1], c.of[2]);
        assert_eq!(c.of[3], c.of[4]);
        assert_ne!(c.of[1], c.of[3]);
        assert_ne!(c.of[0], c.of[1]);
    }

    #[test]
    fn surrounding_objects_are_nearest_first_with_sides() {
        let s = screen(&[
            (100.0, 100.0, 200.0, 120.0),
            (100.0, 124.0, 200.0, 144.0),
            (204.0, 100.0, 300.0, 120.0),
            (100.0, 80.0, 200.0, 98.0),
        ]);
        let all = [0, 1, 2, 3];
        let c = cluster(
            &s,
            &all,
            &containers(&s, &all),
            &ClusterConfig {
                eps: 0.05,
                min_points: 2,
            },
        );
        let near = surrounding(&s, &c, 0, 10);
        assert_eq!(
            near,
            vec![(3, Side::Above), (1, Side::Below), (2, Side::Right)]
        );
    }

    fn arb_boxes() -> impl Strategy<Value = Vec<(f64, f64, f64, f64)>> {
        prop::collection::vec(
            (0.0..1000.0f64, 0.0..1000.0f64, 0.0..300.0f64, 0.0..60.0f64)
                .prop_map(|(x, y, w, h)| (x, y, x + w, y + h)),
            0..120,
        )
    }

    proptest! {
        #[test]
        fn grid_search_equals_linear_search(boxes in arb_boxes(), eps in 0.1..50.0f64) {
            let mut records = Array2::<f64>::zeros((boxes.len(), 4));
            for (i, b) in boxes.iter().enumerate() {
                records.row_mut(i).assign(&ndarray::arr1(&[b.0, b.1, b.2, b.3]));
            }
            let grid = GridSearch.from_batch(&records, BoxGap).expect("grid");
            let linear = LinearSearch.from_batch(&records, BoxGap).expect("linear");
            for row in records.rows() {
                let mut a: Vec<usize> = grid.within_range(row, eps).expect("q").into_iter().map(|p| p.1).collect();
                let mut b: Vec<usize> = linear.within_range(row, eps).expect("q").into_iter().map(|p| p.1).collect();
                a.sort_unstable();
                b.sort_unstable();
                prop_assert_eq!(a, b);
            }
        }
    }
}
