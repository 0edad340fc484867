"""The published report: a static site built from any database (:func:`flowengine.views.site.build.build_site`)."""
