"""Observables of a cloud or a kernel: NNGP/NTK kernels, distances between clouds, Fourier and Hermite spectra, MCMC diagnostics."""
