"""Entry script of the PyInstaller bundle: the same CLI as the ``segcam`` console script."""

from segcam.cli import entry_point

if __name__ == "__main__":
    entry_point()
