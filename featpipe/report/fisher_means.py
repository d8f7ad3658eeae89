"""The report's picture of a Fisher-vector run: what its Gaussian mixtures' components look like.

Drawing the components themselves is `featpipe.features.fisher_pictures`' job (the heaviest GMM
means mapped back from PCA space to descriptor space: SIFT means as orientation glyphs, colour
means as 4x4 cells of mean colour); this module only lays those mosaics out as a report figure.
"""

from __future__ import annotations

from ..plots import plt
from .collect import RunRecord
from .figures import Figure, figure_png

SHOWN = 16  # heaviest components shown per descriptor type
TITLES = {"sift": "SIFT means (gradient orientations per cell)", "color": "colour means (mean colour per cell)"}


def fisher_means(run: RunRecord, model) -> Figure | None:
    """A Fisher-vector run's GMM means as pictures, one panel per descriptor type; None for other runs."""
    from ..features import fisher_pictures
    from .pictures import extractors_of

    fisher = extractors_of(model).get("fisher")
    if fisher is None:
        return None
    pictures = fisher_pictures(fisher, n_components=SHOWN)
    fig, axes = plt.subplots(1, len(pictures), figsize=(4.2 * len(pictures), 2.6), squeeze=False)
    for ax, (kind, picture) in zip(axes[0], pictures.items()):
        ax.imshow(picture, cmap="gray" if picture.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(TITLES.get(kind, kind), fontsize=9)
        ax.set_axis_off()
    fig.suptitle(f"{run.name}: the {SHOWN} heaviest Gaussian components of each descriptor type", fontsize=10)
    return Figure(
        f"fisher-means-{run.name}", f"Fisher-vector vocabulary of {run.name}",
        "Each tile is one component of the Gaussian mixture the Fisher vectors are measured against, mapped "
        "back from PCA space to a descriptor, heaviest first: the SIFT glyphs show which edge orientations "
        "dominate each of the 4x4 cells of a patch, the colour tiles its mean colour per cell. A Fisher vector "
        "records how an image's patches deviate from these typical patches.",
        figure_png(fig),
    )
