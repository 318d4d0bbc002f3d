from django.urls import path

from qa import views

urlpatterns = [
    path("review/", views.review_queues, name="review-queues"),
    path("review/<slug:slug>/next/", views.review_next, name="review-next"),
    path("reviews/<int:item_id>/", views.review_item, name="review-item"),
    path("tasks/<int:task_id>/feedback/", views.task_feedback, name="task-feedback"),
    path("qa/<slug:slug>/", views.dashboard, name="qa-dashboard"),
    path("qa/<slug:slug>/calibration/", views.calibration, name="qa-calibration"),
    path("qa/<slug:slug>/batches/<str:batch_name>/", views.batch_report, name="qa-batch"),
    path("qa/<slug:slug>/policy/", views.policy, name="qa-policy"),
]
