"""C2FDAN: a coarse-to-fine dual attention network for blind face completion.

Hörmann, Xia, Knoche, Rigoll. Layers live in `c2fdan_tf.layers`, networks in
`c2fdan_tf.models`.
"""

__version__ = "0.1.0"
