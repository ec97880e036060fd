"""The face engine: load images safely, detect, align, embed and judge the quality of faces."""
