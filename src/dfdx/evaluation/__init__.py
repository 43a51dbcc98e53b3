"""The one seam that calls f: serial, vectorized batches, thread and process pools, Dask."""
